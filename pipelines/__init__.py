"""Pipeline configs, the engine and its processors, runs, the warehouse adapter, the run API."""
