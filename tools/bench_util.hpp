#pragma once
// What the benchmark programs share: running a peer program as a child process (its output, exit
// status, peak memory, with a time limit), reading its "key value" lines, formatting numbers.

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace xgrad::bench {

inline std::string fmt(double v, int prec = 3) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", prec, v);
    return buf;
}

// A child's stdout and stderr, its exit status (-1: killed or not run), its peak resident memory
// (KiB; it includes what the child inherited before exec) and whether it ran out of time.
struct Run {
    std::string out, err;
    int status = -1;
    long max_rss_kib = 0;
    bool timed_out = false;
    int signal = 0;      // the signal that ended it (0: it exited)
    double seconds = 0;  // wall time
};

// Runs argv[0] (a path) with the arguments; killed (SIGKILL) after `timeout_s` seconds (0: no limit).
inline Run run_command(const std::vector<std::string>& argv, double timeout_s = 0) {
    Run r;
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0) return r;
    if (pipe(err_pipe) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return r;
    }
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out_pipe[1], STDOUT_FILENO);
        dup2(err_pipe[1], STDERR_FILENO);
        for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid < 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return r;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&r.out, &r.err};
    int open_fds = 2;
    while (open_fds > 0) {
        int wait_ms = -1;
        if (timeout_s > 0) {
            const double left = timeout_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            if (left <= 0) {
                kill(pid, SIGKILL);
                r.timed_out = true;
                break;
            }
            wait_ms = int(left * 1000) + 1;
        }
        if (poll(fds, 2, wait_ms) < 0) break;
        for (int k = 0; k < 2; ++k) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            const ssize_t n = read(fds[k].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[k]->append(buf, std::size_t(n));
            } else {
                close(fds[k].fd);
                fds[k].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) close(f.fd);
    int status = 0;
    struct rusage ru {};
    wait4(pid, &status, 0, &ru);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    r.max_rss_kib = ru.ru_maxrss;
    return r;
}

// Why a peer's run gave no result, for its row: "timed out after 600 s", "crashed (signal 11)",
// "failed (exit 1: <its last line on stderr>)".
inline std::string failure(const Run& r, double timeout) {
    if (r.timed_out) return "timed out after " + std::to_string(int(timeout)) + " s";
    if (r.signal) return "crashed (signal " + std::to_string(r.signal) + ")";
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    const auto nl = err.rfind('\n');
    if (nl != std::string::npos) err = err.substr(nl + 1);
    return "failed (exit " + std::to_string(r.status) + (err.empty() ? "" : ": " + err) + ")";
}

// "key value" lines -> map of the texts (the value is the rest of the line)
inline std::map<std::string, std::string> parse_lines(const std::string& text) {
    std::map<std::string, std::string> kv;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const auto sp = line.find(' ');
        if (sp != std::string::npos && sp > 0) kv[line.substr(0, sp)] = line.substr(sp + 1);
    }
    return kv;
}

// "key value" lines whose value is a number -> map
inline std::map<std::string, double> parse_kv(const std::string& text) {
    std::map<std::string, double> kv;
    for (const auto& [key, value] : parse_lines(text)) {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (end != value.c_str() && *end == '\0') kv[key] = v;
    }
    return kv;
}

}  // namespace xgrad::bench
