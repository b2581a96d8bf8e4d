#include "common/result.hpp"

#include <stdexcept>

#include <boost/throw_exception.hpp>

namespace mlnetpol {

void throw_exception_from_error(const error& e, const boost::source_location& location) {
  boost::throw_exception(std::runtime_error(e.message), location);
}

}  // namespace mlnetpol
