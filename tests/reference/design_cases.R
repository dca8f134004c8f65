# Reference design structures for tests/test_design_lme4.py, produced by lme4 itself.
#
# Builds a small deterministic data set (written to design_cases_data.csv with its factor
# levels in design_cases.json) and, for each formula, records what lme4 builds: X and its column
# names, Zt and Lambdat (at a fixed, non-trivial theta), theta's names and lower bounds,
# the grouping factors' levels, the offset and the response.
#
# Run from the repository root:  Rscript tests/reference/design_cases.R
suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})

set.seed(20261123)
n <- 120
dat <- data.frame(
  y = round(rnorm(n, 10, 3), 4),
  x = round(rnorm(n), 4),
  z = round(runif(n, 1, 5), 4),
  t = round(runif(n, 0.5, 3), 4),
  f = factor(sample(c("lo", "mid", "hi"), n, TRUE), levels = c("lo", "mid", "hi")),
  e = factor(sample(c("p", "q"), n, TRUE), levels = c("q", "p")),
  g = factor(sprintf("g%02d", rep(1:12, each = 10)), levels = sprintf("g%02d", c(12:1))),
  h = factor(rep(c("u", "v", "w", "x", "y", "zz"), times = 20)),
  a = factor(rep(1:4, times = 30)),
  b = factor(rep(c("B1", "B2", "B3"), each = 40)),
  k = sample(5:15, n, TRUE),
  o = factor(sample(c("low", "med", "high", "top"), n, TRUE),
             levels = c("low", "med", "high", "top"), ordered = TRUE)
)
dat$s <- rbinom(n, dat$k, 0.4)
dat$resp <- factor(ifelse(runif(n) < 0.45, "yes", "no"), levels = c("no", "yes"))

cases <- list(
  list(id = "intercept_only", formula = "y ~ 1 + (1 | g)", family = "gaussian"),
  list(id = "slope_corr", formula = "y ~ x + (x | g)", family = "gaussian"),
  list(id = "slope_only_0", formula = "y ~ x + (0 + x | g)", family = "gaussian"),
  list(id = "slope_only_minus1", formula = "y ~ x + (-1 + x | g)", family = "gaussian"),
  list(id = "two_slopes", formula = "y ~ x + z + (1 + x + z | g)", family = "gaussian"),
  list(id = "double_bar", formula = "y ~ x + (x || g)", family = "gaussian"),
  list(id = "double_bar_two", formula = "y ~ x + (x + z || g) + (1 | h)", family = "gaussian"),
  list(id = "nested_slash", formula = "y ~ 1 + (1 | b/a)", family = "gaussian"),
  list(id = "interaction_group", formula = "y ~ 1 + (1 | a:b)", family = "gaussian"),
  list(id = "crossed", formula = "y ~ x + (1 | g) + (1 | h)", family = "gaussian"),
  list(id = "same_factor_twice", formula = "y ~ x + (1 | g) + (0 + x | g) + (1 | h)",
       family = "gaussian"),
  list(id = "reorder_ties", formula = "y ~ x + (1 | h) + (x | h) + (1 | g)",
       family = "gaussian"),
  list(id = "factor_slope", formula = "y ~ x + (1 + e | g)", family = "gaussian"),
  list(id = "fixed_interactions", formula = "y ~ x * f + z:e + (1 | g)", family = "gaussian"),
  list(id = "transforms", formula = "y ~ scale(x) + I(z^2) + log(t) + (1 | g)",
       family = "gaussian"),
  list(id = "no_intercept_factor", formula = "y ~ 0 + f + x + (1 | g)", family = "gaussian"),
  list(id = "ordered_factor", formula = "y ~ o + x + (1 | g)", family = "gaussian"),
  list(id = "offset", formula = "y ~ x + offset(log(t)) + (1 | g)", family = "gaussian"),
  list(id = "cbind", formula = "cbind(s, k - s) ~ x + f + (1 | g)", family = "binomial"),
  list(id = "factor_response", formula = "resp ~ x + (1 | g) + (1 | h)", family = "binomial")
)

theta_for <- function(lower) {
  # Distinct values: diagonal entries 0.5, 0.75, ...; off-diagonals -0.3, 0.2, ...
  out <- numeric(length(lower))
  d <- 0
  o <- 0
  for (i in seq_along(lower)) {
    if (is.finite(lower[i])) {
      d <- d + 1
      out[i] <- 0.25 + 0.25 * d
    } else {
      o <- o + 1
      out[i] <- c(-0.3, 0.2, 0.45, -0.15)[(o - 1) %% 4 + 1]
    }
  }
  out
}

triplets <- function(m) {
  m <- as(m, "TsparseMatrix")
  list(nrow = nrow(m), ncol = ncol(m), i = m@i, j = m@j, x = m@x)
}

results <- lapply(cases, function(cs) {
  f <- as.formula(cs$formula)
  if (cs$family == "gaussian") {
    lf <- lFormula(f, data = dat)
  } else {
    lf <- glFormula(f, data = dat, family = binomial)
  }
  rt <- lf$reTrms
  theta <- theta_for(rt$lower)
  Lt <- rt$Lambdat
  Lt@x <- theta[rt$Lind]
  off <- model.offset(lf$fr)
  list(
    id = cs$id, formula = cs$formula, family = cs$family,
    X_colnames = colnames(lf$X), X = unname(lf$X),
    Zt = triplets(rt$Zt), Lambdat = triplets(Lt), theta = theta, lower = rt$lower,
    theta_names = unname(c(unlist(mapply(lme4:::mkPfun(FALSE, TRUE, NULL), names(rt$cnms),
                                         rt$cnms)))), cnms = rt$cnms,
    flist_names = names(rt$flist),
    flist_levels = lapply(rt$flist, levels),
    offset = if (is.null(off)) NULL else as.numeric(off),
    response = unname(model.response(lf$fr))
  )
})

write.csv(dat, "tests/reference/design_cases_data.csv", row.names = FALSE)
levels_of <- lapply(Filter(is.factor, dat), levels)
ordered_cols <- names(Filter(is.ordered, dat))
write_json(list(r_version = R.version.string, lme4_version = as.character(packageVersion("lme4")),
                levels = levels_of, ordered = ordered_cols, cases = results),
           "tests/reference/design_cases.json", digits = NA, auto_unbox = TRUE, null = "null",
           pretty = FALSE)
cat("wrote", length(results), "cases\n")
