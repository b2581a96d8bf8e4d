#pragma once
// The one error convention of mlnetpol: functions that can fail return result<T>, a
// boost::system::result whose error is a readable message. Exceptions are kept for fatal start-up
// configuration only. Two results carry more than a message, because their callers act on it:
// k8s::api_result (k8s/client.hpp: HTTP status, failure_kind, Retry-After, continue token, which
// decide retry, skip or RBAC advice) and admission::decode_review's decode_error
// (admission/codec.hpp: the request uid and apiVersion that the error answer must echo). Both are
// still boost::system::result with a `message`.
#include <string>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace mlnetpol {

// Not constructible from a bare string, so result<std::string> stays unambiguous: use fail().
struct error {
  struct text_tag {};
  error() = default;
  error(text_tag, std::string text) : message(std::move(text)) {}
  std::string message;  // what went wrong, for a person: "config.yaml: key.path: problem"
};

// Lets result<T>::value() throw std::runtime_error; prefer checking the result instead.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& location);

template <class T>
using result = boost::system::result<T, error>;

// A result<T> in the error state: `return fail("bad thing");`.
inline error fail(std::string message) { return error(error::text_tag{}, std::move(message)); }

}  // namespace mlnetpol
