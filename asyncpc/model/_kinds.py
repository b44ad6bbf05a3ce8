"""Neuron kinds describe themselves: state variables, parameters, messages.

``asyncpc describe`` prints these tables; docs/model.md gives the equations.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..neurons import OPTIONS

__all__ = ["NeuronKind", "NEURON_KINDS"]


@dataclass(frozen=True)
class NeuronKind:
    name: str
    summary: str
    equation: str
    state: tuple          # (name, unit, meaning)
    parameters: tuple     # (graph attribute, unit, default, meaning)
    sends: tuple          # (edge role, value)
    receives: tuple       # (edge role, value, synapse)


_CLOCK = (
    ("period", "ms", 0.1, "clock period: ticks every period (rounded to steps)"),
    ("phase", "ms", 0.0, "first tick"),
    ("clock_jitter", "ms", 0.0, "each tick interval changes by up to +-jitter"),
    ("send", "-", "always", "send policy: always | on_delta"),
    ("threshold", "same as state", 0.0, "on_delta: send when the state (or learning signal) moved more than this"),
    ("refresh", "ms", 0.0, "on_delta: send at least this often (0 = never forced)"),
)

def _options(kind: str) -> tuple:
    """The dynamics options ``kind`` reads, from their declarations."""
    return tuple((o.name, o.unit, o.neutral, o.doc) for o in OPTIONS if kind in o.kinds)


NEURON_KINDS = {
    "value": NeuronKind(
        name="value",
        summary="representational neuron: integrates top-down error and its own prediction error",
        equation="tau_x dx/dt = -eps_self + f'(x) * sum_k V_ik eps_k ;  dV_ik/dt = eta eps_k f(x) - decay V_ik",
        state=(("x", "-", "activity"), ("V_ik", "-", "feedback synapse per child error neuron k"),
               ("clamped", "bool", "held by the environment"), ("gain", "-", "plasticity gain (0 = frozen)")),
        parameters=(("activation", "-", "linear", "linear | tanh | sigmoid | relu | leaky_relu"),
                    ("tau", "ms", 1.0, "tau_x, time constant of x"),
                    ("x0", "-", 0.0, "initial activity"),
                    ("eta", "1/ms", 0.0, "learning rate of V"),
                    ("decay", "1/ms", 0.0, "weight decay lambda of V"),
                    *_options("value"),
                    ("role", "-", "hidden", "sensory | label | hidden (who the environment clamps)"),
                    *_CLOCK),
        sends=(("predict", "f(x) to each child error neuron"), ("partner", "x to its own error neuron")),
        receives=(("feedback", "eps_k from child error neurons", "V_ik (learned)"),
                  ("partner", "eps of its own error neuron", "fixed -1"),
                  ("environment", "clamp value / unclamp / modulate gain", "-")),
    ),
    "error": NeuronKind(
        name="error",
        summary="prediction-error neuron: its partner's activity minus the prediction from parent areas",
        equation="tau_e deps/dt = x - (sum_i W_ki f(x_i) + b) - eps  (tau_e = 0: eps = x - mu) ;  "
                 "dW_ki/dt = eta eps f(x_i) - decay W_ki ; db/dt = eta_b eps",
        state=(("eps", "-", "prediction error"), ("W_ki", "-", "prediction synapse per parent value neuron i"),
               ("b", "-", "bias"), ("gain", "-", "plasticity gain (0 = frozen)")),
        parameters=(("tau", "ms", 0.0, "tau_e; 0 = instantaneous"),
                    ("bias", "-", 0.0, "initial bias"),
                    ("eta", "1/ms", 0.0, "learning rate of W"),
                    ("eta_b", "1/ms", 0.0, "learning rate of b"),
                    ("decay", "1/ms", 0.0, "weight decay lambda of W"),
                    *_options("error"),
                    *_CLOCK),
        sends=(("feedback", "eps to each parent value neuron"), ("partner", "eps to its own value neuron")),
        receives=(("predict", "f(x_i) from parent value neurons", "W_ki (learned)"),
                  ("partner", "x of its own value neuron", "fixed +1"),
                  ("environment", "modulate gain", "-")),
    ),
}
