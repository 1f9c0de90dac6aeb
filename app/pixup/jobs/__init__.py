"""Jobs: the plan a request becomes (`pixup.jobs.plan`), the service that queues and runs it
(`pixup.jobs.service`), the per-file runner it calls (`pixup.jobs.runner`) and the options a job
takes (`pixup.jobs.options`).

Nothing is imported here: the bridge's schema imports `pixup.jobs.options`, which must not load the
service (numpy, the engine) with it.
"""
