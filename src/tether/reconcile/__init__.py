"""Reconciling one Application: the effectful pipeline around the pure core (`tether.engine`).

source → render → targets; live state + server-side dry run → comparison; operation steps →
applies, hooks and prunes; everything reported back into the Application's status. The CLI runs
this in-process; the controller runs the very same functions.
"""
