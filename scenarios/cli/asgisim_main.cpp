// The asgisim program: the command line over the built-in catalogue.
#include "asgisim/cli.hpp"
#include "asgisim/scenarios/catalogue.hpp"

int main(int argc, char** argv) {
  return asgisim::cli::main(argc, argv, asgisim::scenarios::built_in_catalogue());
}
