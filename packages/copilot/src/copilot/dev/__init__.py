"""Local development stack and workload simulator."""
