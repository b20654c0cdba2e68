"""One APIRouter per area: rows and the map, augmentation and jobs, review and export, gaps and reports."""
