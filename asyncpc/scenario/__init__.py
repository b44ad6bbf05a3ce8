"""The scenario file format (TOML): parsing, validation, overrides, and what a scenario builds.

Every key is documented in ``docs/scenarios.md``.

- :func:`load_scenario` -> :class:`Scenario` (typed, frozen specs per section)
- :meth:`Scenario.build_network`, :meth:`Scenario.compile`, :meth:`Scenario.load_data`,
  :meth:`Scenario.schedule`, :meth:`Scenario.resolved`, :meth:`Scenario.to_toml`,
  :meth:`Scenario.hash`
- :func:`apply_overrides`: ``--set key.path=value``
- :meth:`Scenario.footprint` -> :class:`Footprint`: what the run needs, counted from the
  settings alone (neurons, edges, steps, ...), before anything is built
"""

from ._footprint import Footprint
from ._parse import SECTIONS, TRACE_ROLES
from ._scenario import Scenario, load_scenario, parse_scenario
from ._spec import (AreaSpec, ClockSpec, DataSpec, DelaysSpec, GenerateSpec, LearningSpec, MessagesSpec,
                    NetworkSpec, NeuronsSpec, OutputSpec, ProjectionSpec, ReadoutSpec, RunSpec, TraceSpec)
from ._toml import apply_overrides

__all__ = ["AreaSpec", "ClockSpec", "DataSpec", "DelaysSpec", "Footprint", "GenerateSpec", "LearningSpec", "MessagesSpec",
           "NetworkSpec", "NeuronsSpec", "OutputSpec", "ProjectionSpec", "ReadoutSpec", "RunSpec", "SECTIONS",
           "Scenario", "TRACE_ROLES", "TraceSpec", "apply_overrides", "load_scenario", "parse_scenario"]
