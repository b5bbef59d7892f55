#pragma once
// The storage of every xgrad Matrix: a contiguous array with a capacity, the interface xtensor
// expects of a container's storage (that of xt::uvector). It differs from xt::uvector in one
// thing: resize() to a size within the capacity keeps the allocation, as std::vector does. So a
// tape's buffers, sized once for the widest batch, serve every narrower batch (a short last
// mini-batch, a single example) and the widest again without allocating.
//
// Like xt::uvector, elements are not initialised (T is an arithmetic type here).
#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace xgrad {

template <class T>
class Buffer {
    static_assert(std::is_trivially_copyable_v<T>, "Buffer holds plain numbers");

public:
    using allocator_type = std::allocator<T>;
    using value_type = T;
    using reference = T&;
    using const_reference = const T&;
    using pointer = T*;
    using const_pointer = const T*;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    using iterator = pointer;
    using const_iterator = const_pointer;
    using reverse_iterator = std::reverse_iterator<iterator>;
    using const_reverse_iterator = std::reverse_iterator<const_iterator>;

    Buffer() noexcept = default;
    explicit Buffer(const allocator_type&) noexcept {}
    explicit Buffer(size_type n, const allocator_type& = allocator_type()) { grow(n); size_ = n; }
    Buffer(size_type n, const_reference v, const allocator_type& = allocator_type()) : Buffer(n) {
        std::fill(begin(), end(), v);
    }
    template <class It, class = std::enable_if_t<std::is_convertible_v<
                            typename std::iterator_traits<It>::iterator_category, std::input_iterator_tag>>>
    Buffer(It first, It last, const allocator_type& = allocator_type()) {
        const auto n = size_type(std::distance(first, last));
        grow(n);
        size_ = n;
        std::copy(first, last, data_);
    }
    Buffer(std::initializer_list<T> init, const allocator_type& a = allocator_type())
        : Buffer(init.begin(), init.end(), a) {}

    ~Buffer() { release(); }

    Buffer(const Buffer& o) : Buffer(o.begin(), o.end()) {}
    Buffer(const Buffer& o, const allocator_type&) : Buffer(o) {}
    Buffer& operator=(const Buffer& o) {
        if (this != &o) {
            resize(o.size_);
            std::copy(o.begin(), o.end(), data_);
        }
        return *this;
    }
    Buffer(Buffer&& o) noexcept { swap(o); }
    Buffer(Buffer&& o, const allocator_type&) noexcept { swap(o); }
    Buffer& operator=(Buffer&& o) noexcept {
        swap(o);
        return *this;
    }

    allocator_type get_allocator() const noexcept { return {}; }

    bool empty() const noexcept { return size_ == 0; }
    size_type size() const noexcept { return size_; }
    // Within the capacity: no allocation, the first min(old, new) elements are kept. Beyond it:
    // a new allocation of exactly n elements; the contents are not kept (xt::uvector's rule). If
    // that allocation throws, the buffer is left as it was.
    void resize(size_type n) {
        if (n > cap_) {
            Buffer bigger;
            bigger.grow(n);
            swap(bigger);
        }
        size_ = n;
    }
    size_type max_size() const noexcept { return std::allocator_traits<allocator_type>::max_size(allocator_type()); }
    void reserve(size_type n) {
        if (n <= cap_) return;
        Buffer bigger;
        bigger.grow(n);
        std::copy(begin(), end(), bigger.data_);
        bigger.size_ = size_;
        swap(bigger);
    }
    size_type capacity() const noexcept { return cap_; }
    void shrink_to_fit() {
        if (cap_ == size_) return;
        Buffer exact(begin(), end());
        swap(exact);
    }
    void clear() { size_ = 0; }

    reference operator[](size_type i) { return data_[i]; }
    const_reference operator[](size_type i) const { return data_[i]; }
    reference at(size_type i) {
        if (i >= size_) throw std::out_of_range("xgrad::Buffer::at");
        return data_[i];
    }
    const_reference at(size_type i) const {
        if (i >= size_) throw std::out_of_range("xgrad::Buffer::at");
        return data_[i];
    }
    reference front() { return data_[0]; }
    const_reference front() const { return data_[0]; }
    reference back() { return data_[size_ - 1]; }
    const_reference back() const { return data_[size_ - 1]; }

    pointer data() noexcept { return data_; }
    const_pointer data() const noexcept { return data_; }

    iterator begin() noexcept { return data_; }
    iterator end() noexcept { return data_ + size_; }
    const_iterator begin() const noexcept { return data_; }
    const_iterator end() const noexcept { return data_ + size_; }
    const_iterator cbegin() const noexcept { return begin(); }
    const_iterator cend() const noexcept { return end(); }
    reverse_iterator rbegin() noexcept { return reverse_iterator(end()); }
    reverse_iterator rend() noexcept { return reverse_iterator(begin()); }
    const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
    const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }
    const_reverse_iterator crbegin() const noexcept { return rbegin(); }
    const_reverse_iterator crend() const noexcept { return rend(); }

    void swap(Buffer& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(cap_, o.cap_);
    }

private:
    void grow(size_type n) {
        if (n) data_ = allocator_type().allocate(n);
        cap_ = n;
    }
    void release() {
        if (data_) allocator_type().deallocate(data_, cap_);
        data_ = nullptr;
        cap_ = size_ = 0;
    }

    T* data_ = nullptr;
    size_type size_ = 0;
    size_type cap_ = 0;
};

template <class T>
bool operator==(const Buffer<T>& a, const Buffer<T>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
template <class T>
bool operator!=(const Buffer<T>& a, const Buffer<T>& b) {
    return !(a == b);
}
template <class T>
void swap(Buffer<T>& a, Buffer<T>& b) noexcept {
    a.swap(b);
}

}  // namespace xgrad
