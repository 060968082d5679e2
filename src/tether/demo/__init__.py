"""`tether up`: the whole GitOps loop on one machine, from one command.

Three local real control planes (`dev`, the management cluster where tether runs, plus `staging`
and `prod`), a Git server on loopback holding an example monorepo, tether installed and
bootstrapped from that repository (one root Application per environment), and the controller
reconciling all three clusters. Everything it starts is tracked by PID files, so stopping it stops
exactly that; everything it creates lives in `$TETHER_HOME/up/` and the clusters' own directories,
so the next `tether up` resumes where the last one stopped.
"""
