throw new Error('re2 is not installed (see package.json)')
