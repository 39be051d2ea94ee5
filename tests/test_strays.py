"""A track's first or last crop that shows the person beside it goes to that person's folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reid.matching.camera import Normalisation
from reid.matching.decision import decide_at
from reid.matching.embedding import set_vectors
from reid.matching.folders import Folder
from reid.matching.grouping import Appearance, normalize_rows
from reid.matching.splitting import SplitRule, describe, find_splits

rng = np.random.default_rng(11)
ALICE, BOB, CAROL = (rng.normal(size=16) for _ in range(3))
OFF = Normalisation(False, "off")


def track(name: str, people: list[np.ndarray], start: int, x: float) -> Folder:
    """A one-track folder of v.mp4 (25 fps): crop k at frame ``start + 10 k`` shows ``people[k]``, its
    box 100 px tall at ``x`` (the person stands still)."""
    images = [Path(f"/p/{name}/v_f{start + 10 * k:06d}.jpg") for k in range(len(people))]
    box = (x, 0.0, x + 40.0, 100.0)
    last = start + 10 * (len(people) - 1)
    result = Folder(
        name,
        Path(f"/p/{name}"),
        images,
        [Appearance("r", "v.mp4", ((start, last),), box, box, 25.0)],
        camera="v.mp4",
        frames={p.name: start + 10 * k for k, p in enumerate(images)},
        boxes={p.name: box for p in images},
    )
    set_vectors(result, normalize_rows(np.stack([p + 0.1 * rng.normal(size=16) for p in people])))
    return result


def test_a_first_crop_of_the_person_beside_the_track_goes_to_their_folder():
    alice = track("id_1", [BOB] + [ALICE] * 6, 100, 200.0)  # started on Bob, who stood beside her
    bob = track("id_2", [BOB] * 6, 60, 220.0)
    (split,) = find_splits([alice, bob], threshold=0.5)
    stray, kept = split.parts
    assert kept.name == "id_1" and len(kept.images) == 6 and split.kept is kept
    assert [p.name for p in stray.images] == ["v_f000100.jpg"] and split.owners == {stray.name: "id_2"}
    text = describe(split)
    assert text.startswith("id_1 seems to change person once: it keeps its 6 crops. Its first crop is another")
    assert "the crop at frame 100 looks like id_2, whose track was beside it then" in text

    decision = decide_at([alice, bob], 0.5, OFF)
    (group,) = decision.proposals
    assert group.survivor.name == "id_2" and [m.name for m in group.members] == [stray.name]
    assert any("shows id_2's person: their tracks were side by side then" in line for line in group.evidence)
    assert decision.count(2).people == 2  # the crop moves, no one is added


def test_a_last_crop_goes_to_the_folder_beside_it_and_no_further():
    alice = track("id_1", [ALICE] * 6 + [BOB], 100, 200.0)
    bob = track("id_2", [BOB] * 6, 150, 230.0)
    far = track("id_3", [BOB] * 6, 150, 900.0)  # looks like Bob too, but far away: not the one beside her
    (split,) = find_splits([alice, bob, far], threshold=0.5)
    assert [len(p.images) for p in split.parts] == [6, 1] and split.parts[0].name == "id_1"
    assert split.owners == {split.parts[1].name: "id_2"} and "Its last crop is another person's" in describe(split)


def test_no_handover_without_someone_alike_beside_the_track():
    started_on_bob = [BOB] + [ALICE] * 6
    # Bob's folder far from the crop, or long before it: the crop stays (too little to cut it off alone)
    assert find_splits([track("id_1", started_on_bob, 100, 200.0), track("id_2", [BOB] * 6, 60, 900.0)], 0.5) == []
    assert find_splits([track("id_1", started_on_bob, 400, 200.0), track("id_2", [BOB] * 6, 60, 220.0)], 0.5) == []
    # someone beside her who does not look like the crop
    assert find_splits([track("id_1", started_on_bob, 100, 200.0), track("id_2", [CAROL] * 6, 60, 220.0)], 0.5) == []
    # a first crop like the rest of the track stays, whoever stood beside her
    assert find_splits([track("id_1", [ALICE] * 7, 100, 200.0), track("id_2", [ALICE] * 6, 60, 220.0)], 0.5) == []
    # and the evaluation's rule without handovers leaves it
    beside = [track("id_1", started_on_bob, 100, 200.0), track("id_2", [BOB] * 6, 60, 220.0)]
    assert find_splits(beside, 0.5, rule=SplitRule(handovers=False)) == []


def test_no_handover_to_a_folder_that_is_itself_split():
    alice = track("id_1", [BOB] + [ALICE] * 6, 100, 200.0)
    bob_then_carol = track("id_2", [BOB] * 5 + [CAROL] * 5, 60, 220.0)
    splits = find_splits([alice, bob_then_carol], threshold=0.5)
    assert [s.folder.name for s in splits] == ["id_2"]


def test_an_accepted_handover_moves_the_crop_without_a_second_question(capsys):
    from reid.matching.review_each import review_each
    from reid.matching.review_form import PageAnswers, accept_answers

    alice = track("id_1", [BOB] + [ALICE] * 6, 100, 200.0)
    bob = track("id_2", [BOB] * 6, 60, 220.0)
    decision = decide_at([alice, bob], 0.5, OFF)
    questions = []
    accepted, said = review_each(decision, [alice, bob], lambda q: questions.append(q) or "y")
    assert len(questions) == 1 and questions[0].startswith("Split 1 of 1: id_1 seems to change person once")
    (group,) = accepted.proposals
    assert {f.name for f in group.folders} == {"id_2", "id_1~2"}
    out = capsys.readouterr().out
    assert "Group 1 of 1: id_1~2 goes to id_2, as split 1 said." in out and "Accepted 1 of 1 proposal." in out

    # refused, the crop stays where it was and nothing is grouped
    accepted, _ = review_each(decision, [alice, bob], lambda q: "n")
    assert not accepted.changes

    # in the browser: the split approved and the group left alone moves the crop; refused, it does not
    assert accept_answers(decision, [alice, bob], PageAnswers(splits={0: "yes"})).accepted.proposals
    refused = accept_answers(decision, [alice, bob], PageAnswers(splits={0: "yes"}, groups={0: "no"}))
    assert refused.accepted.splits and not refused.accepted.proposals
