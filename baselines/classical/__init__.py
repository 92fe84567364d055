"""Classical baselines (no training), one method per module, each registered with ``@register_method``."""
