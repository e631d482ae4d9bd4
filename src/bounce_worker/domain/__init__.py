"""The pure domain core: events, classification and suppression policy.

Nothing in this package does I/O or reads the clock: time comes in as a parameter.
"""
