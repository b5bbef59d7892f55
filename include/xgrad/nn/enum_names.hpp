#pragma once
// Enums that are spelled as text on command lines and in files ("relu", "adam", "he"): one table
// {value, "name"} per enum, from which both directions and the error message are made, so that a
// name added to the table is parsed, printed and listed as accepted at once.
//
//   inline constexpr EnumNames<Init, 2> kInitNames{"initialiser", {{{Init::zeros, "zeros"}, {Init::he, "he"}}}};
//   kInitNames.parse("he")      -> Init::he
//   kInitNames.parse("glorot")  -> UsageError "unknown initialiser 'glorot' (expected zeros or he)"
//   kInitNames.name(Init::he)   -> "he"

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "xgrad/core/tensor.hpp"  // UsageError

namespace xgrad {

template <class E>
struct EnumName {
    E value;
    const char* name;
};

template <class E, std::size_t N>
struct EnumNames {
    const char* what;  // what a value is, for the error message: "activation"
    std::array<EnumName<E>, N> table;

    // The value named `text`; anything else is a UsageError naming the accepted names.
    E parse(const std::string& text) const {
        for (const auto& e : table)
            if (text == e.name) return e.value;
        throw UsageError("unknown " + std::string(what) + " '" + text + "' (expected " + accepted() + ")");
    }
    // The value's name ("?" for a value outside the table, e.g. a cast integer).
    const char* name(E value) const {
        for (const auto& e : table)
            if (e.value == value) return e.name;
        return "?";
    }
    // Every name in table order, e.g. for CLI::IsMember.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : table) out.emplace_back(e.name);
        return out;
    }
    // "gd, momentum or adam"
    std::string accepted() const {
        std::string s;
        for (std::size_t i = 0; i < N; ++i) s += std::string(i == 0 ? "" : i + 1 == N ? " or " : ", ") + table[i].name;
        return s;
    }
};

}  // namespace xgrad
