"""The stack configuration: pydantic models, tier defaults, field and cross-field rules.

`stacks.config.loader` is the only module in the program that reads Pulumi config; every
other module here is plain data and validation, importable without a Pulumi runtime.
The composition (`stacks/platform.py` and the per-cloud builders) takes the validated
`PlatformConfig` and never reads config itself.
"""
