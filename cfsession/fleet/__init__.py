"""Fleet scale: ship sessions to a central PostgreSQL and read them back (docs/FLEET.md).

Everything here needs psycopg 3 (the ``fleet`` extra) and is imported only by ``ship``,
``admin`` and the ``--remote`` forms of the read commands, so the other commands start as
fast as before.
"""
