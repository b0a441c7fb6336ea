"""Monitoring (R13: every server is monitored) through Prometheus.

- `spec`: `MonitoringSpec` (an organisation's `Target`s) and `MonitoringConfig`;
- `render`: file_sd files, alert rules, Prometheus's and Alertmanager's configuration, and
  promtool's checks;
- `provider`: `MonitoringProvider` (read / plan / execute / verify / destroy);
- `prometheus`: reload, `/api/v1/targets`, `/api/v1/alerts`, and `PrometheusStatus`, the
  cached status of a service's servers for its page;
- `alerts`: Alertmanager's webhook payload parsed into `AlertEvent`s, and the token check.
"""

from infrawg.provisioning.providers.monitoring.alerts import (
    AlertEvent,
    AlertStatus,
    WebhookNotification,
    bearer_token,
    parse_webhook,
    read_webhook,
    token_matches,
)
from infrawg.provisioning.providers.monitoring.prometheus import (
    Health,
    PrometheusStatus,
    ServerStatus,
    TargetStatus,
)
from infrawg.provisioning.providers.monitoring.provider import (
    MonitoringProvider,
    diff_targets,
    install_base,
)
from infrawg.provisioning.providers.monitoring.render import (
    PromtoolRefused,
    check_alertmanager_config,
    render_alertmanager_config,
    render_prometheus_config,
    render_rules,
)
from infrawg.provisioning.providers.monitoring.spec import (
    Job,
    MonitoringConfig,
    MonitoringSpec,
    Target,
    TargetKind,
    certificate_targets,
    server_targets,
)

__all__ = [
    "AlertEvent",
    "AlertStatus",
    "Health",
    "Job",
    "MonitoringConfig",
    "MonitoringProvider",
    "MonitoringSpec",
    "PrometheusStatus",
    "PromtoolRefused",
    "ServerStatus",
    "Target",
    "TargetKind",
    "TargetStatus",
    "WebhookNotification",
    "bearer_token",
    "certificate_targets",
    "check_alertmanager_config",
    "diff_targets",
    "install_base",
    "parse_webhook",
    "read_webhook",
    "render_alertmanager_config",
    "render_prometheus_config",
    "render_rules",
    "server_targets",
    "token_matches",
]
