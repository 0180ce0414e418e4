"""The whole lifecycle in one call: :func:`run_demo` (``stagewise demo``)."""

from stagewise.lifecycle.demo import DemoResult, run_demo
from stagewise.lifecycle.progress import DemoProgress, RichProgress, TextProgress
from stagewise.lifecycle.webhook_receiver import WebhookReceiver

__all__ = ["DemoProgress", "DemoResult", "RichProgress", "TextProgress", "WebhookReceiver", "run_demo"]
