"""Escalations to ERMC (policy 2.2.6): reports filed by people or by the watch, read only by ERMC
and their reporter, declared from by press, closed by ERMC, deleted after the retention period."""
