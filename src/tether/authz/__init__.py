"""Authorization: who may do what to which object, in the policy language Argo CD users know.

A policy is CSV lines: `p, <subject>, <resource>, <action>, <object>, <allow|deny>` grants or
denies, `g, <user-or-group>, <role>` binds a subject to a role. Subjects are a principal's name,
its groups and (for API tokens) its project role; a configurable default role applies to every
authenticated principal; deny wins over allow. Projects add roles of their own, confined to
their own objects.

`policies` parses and checks lines (pure), `projects` turns a Project's roles into lines (pure),
`authorizer` decides with pycasbin (pure), and `loader` reads the ConfigMap `tether-rbac` and
the Project objects from the cluster, re-reading them every few seconds.
"""
