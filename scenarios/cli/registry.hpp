// The scenarios the running command line knows: the registry handed to
// asgisim::cli::main (asgisim/cli.hpp), which sets it before any command
// runs. One per process, as the command line is.
#pragma once

#include "asgisim/scenarios/scenario.hpp"

namespace asgisim::cli {

const scenarios::Registry& registry();

}  // namespace asgisim::cli
