# glmmTMB 1.1.5 (Debian r-cran-glmmtmb) fits of the simulated families data
# (tests/reference/families_data.csv, made by families_data.py) and of Salamanders' NB1;
# output: glmmtmb_families.json. Run from the repository root:
#   Rscript tests/reference/glmmtmb_families.R
suppressMessages({library(glmmTMB); library(jsonlite)})
d <- read.csv("tests/reference/families_data.csv", stringsAsFactors = TRUE)
one <- function(name, formula, family, data, start = NULL, map = NULL) {
  t0 <- proc.time()[["elapsed"]]
  f <- glmmTMB(formula, data = data, family = family, start = start, map = map)
  vc <- VarCorr(f)$cond
  re <- lapply(names(vc), function(g) list(group = g, sd = unname(attr(vc[[g]], "stddev"))))
  fe <- fixef(f)$cond
  out <- list(name = name, formula = deparse(formula), family = family$family,
              link = family$link, logLik = as.numeric(logLik(f)),
              fixef = list(names = names(fe), estimate = unname(fe),
                           std_error = unname(sqrt(diag(vcov(f)$cond)))),
              random_effects = re, sigma_glmmTMB = sigma(f),
              converged = f$fit$convergence == 0,
              time_s = proc.time()[["elapsed"]] - t0)
  if (family$family == "t") {
    # glmmTMB estimates the degrees of freedom as psi = log(df)
    # (at the optimum: fit$par; a mapped psi keeps its start value)
    par <- f$fit$par
    out$nu <- exp(if ("psi" %in% names(par)) unname(par[["psi"]]) else start$psi)
  }
  out
}
fits <- list(
  one("nb1", y_nb1 ~ x + (1 | g), nbinom1(), d),
  one("gamma_log", y_gamma ~ x + (1 | g), Gamma(link = "log"), d),
  # the default start (η = 0) is outside the inverse link's domain
  one("gamma_inverse", y_gamma ~ x + (1 | g), Gamma(link = "inverse"), d,
      start = list(beta = c(1 / mean(d$y_gamma), 0))),
  one("beta", y_beta ~ x + (1 | g), beta_family(), d),
  one("student_t", y_t ~ x + (1 | g), t_family(), d),
  one("nb2", y_nb2 ~ x + (1 | g), nbinom2(), d),
  # degrees of freedom held at 5 (psi = log 5 mapped out of the fit)
  one("student_t_nu5", y_t ~ x + (1 | g), t_family(), d,
      start = list(psi = log(5)), map = list(psi = factor(NA)))
)
write_json(list(fits = fits), "tests/reference/glmmtmb_families.json", digits = NA,
           auto_unbox = TRUE, pretty = TRUE)
