"""The release flow: everything between a reviewed change and live traffic.

One entry module per make target:

    switch.py       make plan / make apply / make verify
    rollout.py      make release / make rollback (the progressive, resumable release)
    status.py       make status
    journal.py      make history (and the journal every other module appends to)
    migrate.py      make migrate (through ``invoke``, the deployed function's client)
    statements.py   make statements (the statement inventory)
    traffic.py      make traffic (a colour's own query mix, as its database role)
    preflight.py    make preflight
    demo.py         make demo
    environment.py  make env (and, for every module here, the environment, its workspace and session)

and the pieces they share: ``environment`` (which environment, its Terraform workspace and AWS session, the
colours, ``ReleaseError``), ``tf`` (the terraform CLI), ``plan_review``, ``verify`` (the readiness checks),
``trafficfile`` (the one source of truth for live_color and canary_percent), ``observe`` (what Route 53, ECS
and CloudWatch answer), ``contract`` (the evidence a contract migration needs) and ``evidence`` (what the
database and the load balancer say about a colour, and a rotated password).

The package imports nothing when it is imported: ``python -m scripts.release.switch`` then runs the module
once, as ``__main__``, and never a second copy of it.
"""
