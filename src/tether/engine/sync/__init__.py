"""The sync operation as a pure, resumable step machine.

A sync is long: waves wait for health, hooks run to completion, a crash may cut it anywhere. Its
whole progress is therefore data (`engine.operation.OperationState`, persisted in the
Application's status), and one pure function decides what happens next:

    machine.advance(state, plan, observations) -> Decision(new_state, actions)

`plans.build` turns a comparison into the ordered groups of tasks (phase, wave, kind, name);
`observations` are what the executor saw of the live objects the machine asked about
(`machine.watched`) and the outcomes of the actions it carried out last; the actions
(`actions.Apply`, `Prune`, `CreateHook`, `DeleteHook`, `CreateNamespace`, `Persist`, `Wait`,
`Finish`) are data that `tether.reconcile` carries out. Phases, waves, health gating, hooks and
their delete policies, prune order, retries with backoff, termination and resuming after a crash
are all decided here, and tested as data (`testdata/sync/<case>/`).
"""
