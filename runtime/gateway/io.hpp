// The one narrow header through which runtime/ code sees Asio. core/ and sim/ never
// include it (ci/check-core-purity.sh).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace lifeline::runtime {
namespace asio = boost::asio;
}  // namespace lifeline::runtime
