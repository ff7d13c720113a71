//===- FileUtil.cpp - whole-file reads and atomic writes ------------------===//
//
// POSIX calls rather than iostreams, so every error can carry errno's reason.
//
//===----------------------------------------------------------------------===//

#include "backends/common/FileUtil.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace gptc;

namespace {

/// Owns an open file descriptor and closes it on destruction.
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd(fd) {}
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor() {
    if (fd >= 0)
      ::close(fd);
  }

  int get() const { return fd; }

  /// Closes now, reporting the error close() may return (deferred write
  /// errors on some file systems surface only here).
  bool close() {
    int result = ::close(fd);
    fd = -1;
    return result == 0;
  }

private:
  int fd;
};

/// A temporary file that is removed on destruction unless released.
class TemporaryFile {
public:
  explicit TemporaryFile(std::string path) : path(std::move(path)) {}
  TemporaryFile(const TemporaryFile &) = delete;
  TemporaryFile &operator=(const TemporaryFile &) = delete;
  ~TemporaryFile() {
    if (!path.empty())
      ::unlink(path.c_str());
  }

  const std::string &getPath() const { return path; }

  /// Keeps the file: it has been renamed to its final name.
  void release() { path.clear(); }

private:
  std::string path;
};

std::string errnoText() { return std::strerror(errno); }

/// The directory holding `path`, for fsync'ing a rename in it.
std::string parentDirectory(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status writeAll(int fd, std::string_view bytes, const std::string &path,
                const std::string &tempPath) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return Status::error("{}: cannot write temporary file '{}': {}", path,
                           tempPath, errnoText());
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
  return Status::success();
}

} // namespace

Expected<std::string> gptc::readFile(const std::string &path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return Status::error("{}: cannot open: {}", path, errnoText());
  struct stat info;
  if (::fstat(fd.get(), &info) != 0)
    return Status::error("{}: cannot stat: {}", path, errnoText());
  if (S_ISDIR(info.st_mode))
    return Status::error("{}: is a directory, expected a file", path);

  // st_size sizes the buffer; reading on to end of file also copes with files
  // that grow meanwhile and with pipes, whose st_size is 0.
  std::string contents(static_cast<size_t>(info.st_size), '\0');
  size_t size = 0;
  char overflow[1 << 16];
  for (;;) {
    bool inContents = size < contents.size();
    char *dst = inContents ? contents.data() + size : overflow;
    size_t room = inContents ? contents.size() - size : sizeof(overflow);
    ssize_t got = ::read(fd.get(), dst, room);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return Status::error("{}: cannot read: {}", path, errnoText());
    }
    if (got == 0)
      break;
    if (!inContents)
      contents.append(overflow, static_cast<size_t>(got));
    size += static_cast<size_t>(got);
  }
  contents.resize(size);
  return contents;
}

Status gptc::writeFileAtomically(const std::string &path,
                                 const std::vector<std::string_view> &chunks) {
  // The name is unique within this process (pid, counter); O_EXCL refuses
  // a leftover from a dead process that had the same pid, so try the next.
  static std::atomic<unsigned> counter{0};
  int rawFd = -1;
  std::string tempPath;
  for (int attempt = 0; rawFd < 0; ++attempt) {
    tempPath = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
    rawFd =
        ::open(tempPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (rawFd < 0 && (errno != EEXIST || attempt == 100))
      return Status::error("{}: cannot create temporary file '{}': {}", path,
                           tempPath, errnoText());
  }
  FileDescriptor fd(rawFd);
  TemporaryFile temp(tempPath);

  for (std::string_view chunk : chunks)
    if (Status status = writeAll(fd.get(), chunk, path, tempPath); !status.ok())
      return status;
  if (::fsync(fd.get()) != 0)
    return Status::error("{}: cannot fsync temporary file '{}': {}", path,
                         tempPath, errnoText());
  if (!fd.close())
    return Status::error("{}: cannot close temporary file '{}': {}", path,
                         tempPath, errnoText());
  if (::rename(tempPath.c_str(), path.c_str()) != 0)
    return Status::error("{}: cannot rename temporary file '{}' into place: {}",
                         path, tempPath, errnoText());
  temp.release();

  std::string directory = parentDirectory(path);
  FileDescriptor dirFd(
      ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirFd.get() < 0 || ::fsync(dirFd.get()) != 0)
    return Status::error("{}: written, but cannot fsync directory '{}': {}; "
                         "the new file may not survive a system crash",
                         path, directory, errnoText());
  return Status::success();
}
