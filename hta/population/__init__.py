"""General-population data: life tables and utility norms by age and sex."""
