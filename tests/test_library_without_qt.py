"""Everything outside gridmap.app imports with PyQt5 blocked (napari-style model/view split)."""

import pkgutil
import subprocess
import sys

import gridmap

LIBRARY_MODULES = sorted(
    m.name for m in pkgutil.walk_packages(gridmap.__path__, "gridmap.") if not m.name.startswith("gridmap.app")
)


def test_library_modules_import_without_qt():
    assert "gridmap.project" in LIBRARY_MODULES and "gridmap.cli" in LIBRARY_MODULES
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PyQt5', 'PySide2', 'PySide6', 'PyQt6'):\n"
        "            raise ImportError('Qt is blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for name in {LIBRARY_MODULES!r}:\n"
        "    __import__(name)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
