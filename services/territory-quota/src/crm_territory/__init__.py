"""The territory-quota service: territories, explainable assignment, access scopes, quotas and attainment."""
