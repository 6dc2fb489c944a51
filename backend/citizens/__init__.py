"""The citizens domain (市民): one home for what both citizen channels (the WeChat mini-program,
miniprogram_api/, and the kiosk, kiosk/) share.

- ``models``: the WeChat user and how they were verified, enterprise bindings, kiosk sign-in tickets.
- ``identity``: who the citizen is (face verification sessions, the verified natural person and
  name, the identity behind an actor).
- ``bindings``: enterprises a person acts for (legal representative by ID number, or an
  authorisation letter reviewed by staff) and their suspension.
- ``tickets``: the one-time QR code that signs a verified person in at a kiosk.
- ``own``: the owner's view of records, cases and reports, and who files for a record.

Operations flush and never commit; the channels' requests own the transaction.
"""
