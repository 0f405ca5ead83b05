"""Where and how a run happens: environment settings, device, seeds, versions, atomic writes; run profiles.

The lowest layer (with ``errors``): it imports nothing else of the package, and every other layer may
use it. Lessons: all (``get_profile``, ``seed_everything``; ``pick_device`` from 01), 01 (``is_offline``),
02 (``cache_dir``), 04 (``synchronize``, ``versions``).
"""

from ._env import (atomic_path, cache_dir, is_offline, mirror_dir, pick_device, require, seed_everything, synchronize,
                   versions)
from ._profiles import PROFILES, Profile, get_profile, resolve_profile_name

__all__ = ["atomic_path", "cache_dir", "is_offline", "mirror_dir", "pick_device", "require", "seed_everything",
           "synchronize", "versions", "PROFILES", "Profile", "get_profile", "resolve_profile_name"]
