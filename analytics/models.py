from django.db import models
from django.utils.translation import gettext_lazy as _


class DailyRollup(models.Model):
    """One metric's value for one day and one slice (e.g. a channel or a team); the
    dashboards read these instead of scanning messages. Definitions: analytics.metrics."""

    metric = models.CharField(_("metric"), max_length=64)
    day = models.DateField(_("day"))
    dimension = models.CharField(
        _("slice"), max_length=64, blank=True, help_text=_("e.g. channel:web; empty for the total.")
    )
    value = models.FloatField(_("value"))
    sample_size = models.PositiveIntegerField(_("sample size"), default=0)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        ordering = ["-day", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["metric", "day", "dimension"], name="rollup_metric_day_dim_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.day} {self.dimension}".strip()
