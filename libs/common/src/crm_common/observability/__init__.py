"""Logs, traces and metrics, set up the same way in every process."""

from crm_common.observability.logs import configure_logging
from crm_common.observability.tracing import configure_tracing, extract_trace_context, inject_trace_context

__all__ = ["configure_logging", "configure_tracing", "extract_trace_context", "inject_trace_context"]
