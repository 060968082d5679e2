"""Secrets out of plain text: SOPS-encrypted manifests in Git, decrypted only at apply time.

A manifest encrypted with SOPS (age recipients) travels through rendering untouched and is
decrypted just before the reconcile pipeline places it; the age keys live in a Kubernetes
Secret, never in Git. Decrypted values then only ever appear masked (see engine.masking).
"""
