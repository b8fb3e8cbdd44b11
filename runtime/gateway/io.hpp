// The narrow header through which runtime/ headers see Asio (the io_context, timers and
// descriptors their classes hold). Beast and the rest of Asio appear only in runtime/
// .cpp files. core/ and sim/ can never include it: their include roots have no runtime/.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace lifeline::runtime {
namespace asio = boost::asio;
}  // namespace lifeline::runtime
