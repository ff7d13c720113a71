//===- FileUtil.cpp - whole-file reads and atomic writes ------------------===//
//
// POSIX calls rather than iostreams, so every error can carry errno's reason.
//
//===----------------------------------------------------------------------===//

#include "backends/common/FileUtil.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <dirent.h>
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

/// What kind of file `mode` describes, for messages.
const char *fileKind(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  if (S_ISLNK(mode))
    return "a symbolic link";
  return "not a regular file";
}

/// An error unless `info` describes a regular file.
Status checkRegular(const std::string &path, const struct stat &info) {
  if (S_ISREG(info.st_mode))
    return Status::success();
  if (S_ISDIR(info.st_mode))
    return Status::error("{}: is a directory, expected a file", path);
  return Status::error("{}: is {}, expected a regular file", path,
                       fileKind(info.st_mode));
}

/// An error when a file of `bytes` bytes exceeds `maxBytes`.
Status checkSize(const std::string &path, int64_t bytes, int64_t maxBytes,
                 const char *what) {
  if (bytes <= maxBytes)
    return Status::success();
  return Status::error("{}: is {} bytes, more than the {} bytes {} may have",
                       path, bytes, maxBytes, what);
}

/// Whether the writeFileAtomically temporary `name` ("<file>.tmp.<pid>.<n>")
/// belongs to a process that is no longer running.
bool isStaleTemporary(const std::string &name) {
  size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string::npos)
    return false;
  std::string rest = name.substr(tmp + 5);
  size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size() ||
      rest.find_first_not_of("0123456789.") != std::string::npos ||
      rest.find('.', dot + 1) != std::string::npos || dot > 9)
    return false;
  pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dot)));
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

} // namespace

int64_t gptc::physicalMemoryBytes() {
  return int64_t(::sysconf(_SC_PHYS_PAGES)) * int64_t(::sysconf(_SC_PAGESIZE));
}

Status gptc::checkInputFile(const std::string &path, int64_t maxBytes,
                            const char *what) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0)
    return Status::error("{}: cannot open: {}", path, errnoText());
  if (Status status = checkRegular(path, info); !status.ok())
    return status;
  return checkSize(path, int64_t(info.st_size), maxBytes, what);
}

Expected<std::string> gptc::readFile(const std::string &path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
  // refuses it.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0)
    return Status::error("{}: cannot open: {}", path, errnoText());
  struct stat info;
  if (::fstat(fd.get(), &info) != 0)
    return Status::error("{}: cannot stat: {}", path, errnoText());
  if (Status status = checkRegular(path, info); !status.ok())
    return status;
  if (Status status = checkSize(path, int64_t(info.st_size),
                                physicalMemoryBytes(), "a file read whole");
      !status.ok())
    return Status::error("{} (this machine's memory)", status.message());

  // st_size sizes the buffer; reading on to end of file also copes with
  // files that grow meanwhile (up to twice the size they had).
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
    if (!inContents && contents.size() > 2 * size_t(info.st_size) + (1 << 20))
      return Status::error("{}: grows while it is read; expected a file "
                           "that stays as it is",
                           path);
    if (!inContents)
      contents.append(overflow, static_cast<size_t>(got));
    size += static_cast<size_t>(got);
  }
  contents.resize(size);
  return contents;
}

Status gptc::writeFileAtomically(const std::string &path,
                                 const std::vector<std::string_view> &chunks) {
  // A directory in the way makes the rename fail, after the data is written.
  struct stat existing;
  if (::lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode) &&
      !S_ISDIR(existing.st_mode))
    return Status::error("{}: is {}; refusing to replace it with a file", path,
                         fileKind(existing.st_mode));
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

Status gptc::checkOutputFile(const std::string &output,
                             const std::string &input, const char *flag) {
  struct stat out;
  if (::lstat(output.c_str(), &out) != 0)
    return Status::success(); // a new file
  if (!S_ISREG(out.st_mode))
    return Status::error("{} {}: is {}; refusing to replace it with a file",
                         flag, output, fileKind(out.st_mode));
  struct stat in;
  if (!input.empty() && ::stat(input.c_str(), &in) == 0 &&
      in.st_dev == out.st_dev && in.st_ino == out.st_ino)
    return Status::error("{} {}: is the input file; refusing to overwrite it",
                         flag, output);
  return Status::success();
}

std::vector<std::string> gptc::removeStaleTemporaries(const std::string &dir) {
  std::vector<std::string> removed;
  DIR *stream = ::opendir(dir.c_str());
  if (!stream)
    return removed;
  while (struct dirent *entry = ::readdir(stream)) {
    std::string name = entry->d_name;
    if (isStaleTemporary(name) && ::unlink((dir + "/" + name).c_str()) == 0)
      removed.push_back(name);
  }
  ::closedir(stream);
  return removed;
}
