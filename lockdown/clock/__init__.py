"""The clock: the scheduler process's jobs and the health it reports."""
