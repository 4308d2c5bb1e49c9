// Observations: what a script can ask about the model, in the same records every
// backend produces. Observing never changes state.
import MopsABI
