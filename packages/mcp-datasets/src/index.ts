// The package is being built; see its README for what it is for.
export {};
