def square(n):
    return n * n


def fail(n):
    return n / 0
