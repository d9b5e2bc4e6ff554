"""Reusable Pulumi components, grouped by cloud. One ComponentResource per module; helpers in `_`-prefixed modules."""
