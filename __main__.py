"""multicloud-platform: load the stack's config, build the platform, export its outputs."""

import pulumi

from stacks.config.loader import load_platform_config
from stacks.platform import build_platform

for output_name, value in build_platform(load_platform_config()).items():
    pulumi.export(output_name, value)
