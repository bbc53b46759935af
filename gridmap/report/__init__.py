"""Reports for leadership: PDF, offline HTML (folium) and Excel."""
