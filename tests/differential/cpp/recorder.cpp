// Exception names as Python prints type(exc).__name__.
#include "recorder.hpp"

#include <boost/context/fiber.hpp>

#include <stdexcept>

#include "asgisim/core/asgi.hpp"
#include "asgisim/core/request.hpp"
#include "asgisim/sim/errors.hpp"
#include "asgisim/sim/simulation.hpp"

namespace asgisim::differential {

std::optional<std::string> exception_name(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const sim::TaskUnwound&) {
    return std::nullopt;
  } catch (const boost::context::detail::forced_unwind&) {
    return std::nullopt;
  } catch (const sim::Cancelled&) {
    return "CancelledError";
  } catch (const ForeignError& foreign) {
    return std::string(foreign.what());
  } catch (const AppError&) {
    return "AppError";
  } catch (const core::ClientDisconnect&) {
    return "ClientDisconnect";
  } catch (const core::ClientDisconnected&) {
    return "ClientDisconnected";
  } catch (const sim::ExceptionGroup& group) {
    std::string name = "ExceptionGroup[";
    bool first = true;
    for (const std::exception_ptr& member : group.exceptions()) {
      if (!first) name += ",";
      first = false;
      name += exception_name(member).value_or("?");
    }
    return name + "]";
  } catch (const sim::EndOfStream&) {
    return "EndOfStream";
  } catch (const sim::BrokenResourceError&) {
    return "BrokenResourceError";
  } catch (const sim::ClosedResourceError&) {
    return "ClosedResourceError";
  } catch (const std::logic_error&) {
    return "AssertionError";  // the model's `assert` statements
  } catch (const std::runtime_error&) {
    return "RuntimeError";  // the server's protocol errors, "No response returned."
  } catch (const std::exception& other) {
    return std::string("std::exception(") + other.what() + ")";
  } catch (...) {
    return "unknown";
  }
}

void Recorder::trace_note(const nlohmann::json& event) {
  if (sim::Simulation::current_or_null() != nullptr) sim::note("event " + event.dump());
}

nlohmann::json exception_json(const std::exception_ptr& error) {
  if (!error) return nullptr;
  const std::optional<std::string> name = exception_name(error);
  if (!name) return nullptr;
  return *name;
}

}  // namespace asgisim::differential
