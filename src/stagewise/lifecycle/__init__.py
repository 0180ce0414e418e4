"""The whole lifecycle in one call: :func:`stagewise.lifecycle.demo.run_demo` (``stagewise demo``)."""
