"""The Git boundary: mirrors, revision resolution, snapshots and repository credentials.

Entry point: `repositories.Repositories`. Pure parts (`semvers`, `refs`, `links`, `urls`) carry
the rules; `mirrors`, `gitcli`, `auth`, `trees`, `snapshots` and `commits` do the I/O.
"""
