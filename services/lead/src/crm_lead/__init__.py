"""The lead service: capture, qualify, assign and convert marketing and sales leads."""
