"""The territory-quota service: the territory-quota service of the CRM suite."""
