"""Recommend new facility sites for one kind of service, from the project's data (issue 5 §5).

Clients are the grids, located at their elderly residents' centre and weighted by
their demand index (:mod:`gridmap.care.demand`). Sites are the existing facilities of
the kind (forced open) plus the candidate sites of the facility list. The models are
those of :mod:`gridmap.care.location`, solved to proven optimality:

- ``pmedian``: open ``new_sites`` more sites to minimise demand-weighted distance;
- ``mclp``: open ``new_sites`` more sites to cover the most demand within ``radius``;
- ``cpmedian``: as ``pmedian``, but no site serves more than its capacity; demand is
  converted to places with the kind's uptake (:data:`gridmap.care.coverage.DEFAULT_UPTAKE`).

Distances are straight-line in EPSG:4546 metres (the grid-to-site matrix is small:
1421 grids by about a hundred sites).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.care.coverage import DEFAULT_RADIUS, DEFAULT_UPTAKE, UPTAKE_META_KEY, grid_centres
from gridmap.care.demand import elderly_demand
from gridmap.care.location import CapacitatedPMedian, MaxCoverage, PMedian
from gridmap.crs import METRIC_CRS
from gridmap.errors import GridMapError

__all__ = ["MODELS", "PlanResult", "plan_sites", "write_plan"]

MODELS = ("pmedian", "mclp", "cpmedian")
CANDIDATE_KIND = "candidate"


@dataclass
class PlanResult:
    """Recommended sites and what they change.

    Attributes
    ----------
    grids : DataFrame
        Per grid: ``grid_code``, ``demand``, ``site_id`` (assigned facility),
        ``site_name``, ``distance_m``, ``covered`` (within ``radius``),
        ``unmet_demand`` (demand no site can take: outside the radius for ``mclp``,
        over capacity for ``cpmedian``), ``centre_x``, ``centre_y`` (EPSG:4546).
    sites : GeoDataFrame
        Every open site: ``site_id``, ``name``, ``is_new``, ``capacity``, ``load``
        (places used), ``demand_served``, ``grids_served``, ``demand_gained`` (for a
        new site: demand now served by it), in EPSG:4490.
    summary : dict
        Model, status, objective, gap, seconds, coverage before/after, mean distance
        before/after, and any model-size reduction.
    messages : list of str
    """

    grids: pd.DataFrame
    sites: gpd.GeoDataFrame
    summary: dict
    messages: list = field(default_factory=list)


def _existing_and_candidates(project, kind):
    if not project.has_layer("facilities"):
        raise GridMapError(f"{project.path}: has no facilities layer; geocode the facility list first")
    facilities = project.read("facilities").to_crs(METRIC_CRS)
    existing = facilities[facilities["kind"] == kind]
    candidates = facilities[facilities["kind"] == CANDIDATE_KIND]
    if len(candidates) == 0:
        raise GridMapError(f"{project.path}: has no candidate sites (类型 候选站点) to choose new {kind} sites from")
    return existing, candidates


def plan_sites(project, kind="day_care", new_sites=5, model="pmedian", radius=DEFAULT_RADIUS, *,
               capacity_new=None, weights=None, elderly=None, time_limit=120.0, progress=None, cancelled=None):
    """Choose ``new_sites`` candidate sites for facilities of ``kind``.

    Parameters
    ----------
    project : Project
    kind : str
        A facility kind with existing facilities (e.g. ``day_care``, ``elderly_home``).
    new_sites : int
        Sites to open on top of the existing ones (which stay open).
    model : {"pmedian", "mclp", "cpmedian"}
    radius : float
        Walking radius in metres: the coverage radius of ``mclp`` and what counts as
        covered in every model's report.
    capacity_new : float, optional
        Capacity of a new site (``cpmedian``); default the median existing capacity.
    time_limit : float
        Solver budget in seconds; the result reports its gap if it stops early.

    Raises
    ------
    GridMapError
        Unknown model, no candidates, ``new_sites`` larger than the candidates,
        capacities too small for the demand (by how much), no elderly demand.
    """
    if model not in MODELS:
        raise GridMapError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    if new_sites < 0:
        raise GridMapError(f"--new-sites must be at least 0, got {new_sites}")
    existing, candidates = _existing_and_candidates(project, kind)
    if new_sites > len(candidates):
        raise GridMapError(f"asked for {new_sites} new sites but the project has only {len(candidates)} candidates")
    if progress:
        progress(0.05, "读取老年人口需求")
    weights, elderly = elderly_demand(project, weights, elderly)
    grids = project.read("grids", columns=["grid_code", "grid_name", "community"])
    centres = grid_centres(grids, elderly)
    clients = centres[centres["demand"] > 0].reset_index(drop=True)
    if len(clients) == 0:
        raise GridMapError(f"{project.path}: no grid has elderly demand; geocode the residents first")
    sites = pd.concat([existing.assign(is_new=False), candidates.assign(is_new=True)], ignore_index=True)
    site_xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    client_xy = clients[["centre_x", "centre_y"]].to_numpy()
    cost = np.hypot(client_xy[:, None, 0] - site_xy[None, :, 0], client_xy[:, None, 1] - site_xy[None, :, 1])
    forced = np.flatnonzero(~sites["is_new"].to_numpy())
    p = len(forced) + new_sites
    demand = clients["demand"].to_numpy(dtype=float)
    messages = []
    uptake = {**DEFAULT_UPTAKE, **project.meta().get(UPTAKE_META_KEY, {})}.get(kind, 0.01)
    capacities = pd.to_numeric(sites["capacity"], errors="coerce").to_numpy(dtype=float)
    default_capacity = capacity_new if capacity_new is not None else float(np.nanmedian(capacities[forced])) \
        if len(forced) and np.isfinite(capacities[forced]).any() else 30.0
    capacities = np.where(np.isfinite(capacities), capacities, default_capacity)
    if progress:
        progress(0.2, f"求解 {model}")
    if model == "pmedian":
        solved = PMedian.from_cost_matrix(cost, demand, p=p, forced=forced).solve(
            time_limit=time_limit, progress=None, cancelled=cancelled)
        assignment, load_demand, unmet = solved.assignment, None, np.zeros(len(clients))
    elif model == "mclp":
        solved = MaxCoverage.from_cost_matrix(cost, demand, p=p, radius=radius, forced=forced).solve(
            time_limit=time_limit, cancelled=cancelled)
        open_cost = np.where(np.isin(np.arange(len(sites)), solved.open_sites), cost, np.inf)
        assignment = open_cost.argmin(axis=1)
        unmet = np.where(solved.covered, 0.0, demand)
        load_demand = None
    else:
        places = demand * uptake
        # With too few places the city still wants the best use of what there is: demand
        # that no site can take is left unmet at a penalty far above any travel cost.
        candidate_caps = np.sort(capacities[sites["is_new"].to_numpy()])[::-1][:new_sites]
        short = places.sum() - capacities[forced].sum() - candidate_caps.sum()
        penalty = None
        if short > 0:
            penalty = 10.0 * float(cost.max())
            messages.append(f"existing capacity plus the {new_sites} largest candidates falls short of demand by "
                            f"{short:,.1f} places; the shortfall is reported as unmet demand")
        solved = CapacitatedPMedian.from_cost_matrix(cost, places, capacities, p=p, forced=forced,
                                                     unmet_penalty=penalty).solve(time_limit=time_limit,
                                                                                  cancelled=cancelled)
        assignment = solved.assignment
        unmet = solved.unmet / uptake if solved.unmet is not None else np.zeros(len(clients))
        load_demand = np.asarray(solved.site_load) / uptake
    if cancelled and cancelled():
        raise GridMapError("cancelled")
    if progress:
        progress(0.8, "整理结果")
    # A client the capacitated model leaves wholly unserved has no site (-1).
    served_mask = assignment >= 0
    safe = np.maximum(assignment, 0)
    distance = np.where(served_mask, cost[np.arange(len(clients)), safe], np.nan)
    clients_out = pd.DataFrame({
        "grid_code": clients["grid_code"].to_numpy(),
        "demand": demand,
        "site_id": np.where(served_mask, sites["facility_id"].to_numpy()[safe], None),
        "site_name": np.where(served_mask, sites["name"].to_numpy()[safe], None),
        "distance_m": np.round(distance, 1),
        "covered": served_mask & (distance <= radius),
        "unmet_demand": unmet,
        "centre_x": client_xy[:, 0],
        "centre_y": client_xy[:, 1],
    })
    served = (np.bincount(assignment[served_mask], weights=demand[served_mask], minlength=len(sites))
              if load_demand is None else load_demand)
    grids_served = np.bincount(assignment[served_mask], minlength=len(sites))
    open_mask = np.isin(np.arange(len(sites)), solved.open_sites)
    site_table = gpd.GeoDataFrame({
        "site_id": sites["facility_id"].to_numpy(),
        "name": sites["name"].to_numpy(),
        "kind": kind,
        "is_new": sites["is_new"].to_numpy(),
        "capacity": capacities,
        "demand_served": np.round(served, 3),
        "load": np.round(served * uptake, 2),
        "grids_served": grids_served,
        "demand_gained": np.where(sites["is_new"].to_numpy(), np.round(served, 3), 0.0),
    }, geometry=sites.geometry.values, crs=METRIC_CRS)[open_mask].to_crs("EPSG:4490").reset_index(drop=True)

    # Before: the existing facilities alone, each grid to its nearest.
    before_cost = cost[:, forced] if len(forced) else np.full((len(clients), 1), np.inf)
    before = before_cost.min(axis=1)
    summary = {
        "kind": kind, "model": model, "new_sites": new_sites, "radius_m": radius,
        "status": solved.status, "objective": float(solved.objective), "gap": float(solved.gap),
        "seconds": round(float(solved.solve_seconds), 3),
        "covered_share_before": float(demand[before <= radius].sum() / demand.sum()),
        "covered_share_after": float(demand[clients_out["covered"].to_numpy()].sum() / demand.sum()),
        "mean_distance_before_m": float((demand * np.where(np.isfinite(before), before, np.nan)).sum() / demand.sum())
        if np.isfinite(before).all() else None,
        "mean_distance_after_m": float(np.nansum(demand * distance) / demand[served_mask].sum()),
        "new_site_ids": site_table.loc[site_table["is_new"], "site_id"].tolist(),
        "unmet_demand": float(clients_out["unmet_demand"].sum()),
        "reduction": solved.reduction,
    }
    if len(forced) == 0:
        messages.append(f"no existing {kind} facilities: every site is new")
    if progress:
        progress(1.0, "完成")
    return PlanResult(grids=clients_out, sites=site_table, summary=summary, messages=messages)


def write_plan(project, result):
    """Save ``care_allocation`` (per grid), ``care_sites`` (open sites) and ``care_allocation_lines``."""
    grids = result.grids
    sites = result.sites.to_crs(METRIC_CRS).set_index("site_id")
    grids = grids[grids["site_id"].notna()]
    ends = sites.geometry.reindex(grids["site_id"])
    lines = shapely.linestrings(
        np.stack([np.column_stack([grids["centre_x"], grids["centre_y"]]),
                  np.column_stack([ends.x.to_numpy(), ends.y.to_numpy()])], axis=1))
    lines_layer = gpd.GeoDataFrame(grids[["grid_code", "site_id", "distance_m", "covered"]], geometry=lines,
                                   crs=METRIC_CRS).to_crs("EPSG:4490")
    project.write({"care_allocation": result.grids, "care_sites": result.sites, "care_allocation_lines": lines_layer},
                  meta={"care_plan": result.summary})
